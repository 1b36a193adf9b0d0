"""An agent's replies: checked, composed, queued, sent through Amazon's relay, bounced."""
