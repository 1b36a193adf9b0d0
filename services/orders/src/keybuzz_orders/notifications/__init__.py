"""The order feed's change notifications: the subscriptions, the SQS consumer, the details."""
