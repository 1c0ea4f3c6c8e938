"""Provider webhooks: delivery statuses and inbound replies, verified, parsed and recorded once."""
