"""An agent's replies: checked, composed, queued, sent through the marketplace's relay or API, bounced."""
