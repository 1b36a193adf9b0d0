"""Amazon's ORDER_CHANGE notifications: the subscriptions, the SQS consumer, the details."""
