"""Delivery: rendering templates, the channels (email, SMS, wallet), and the outbox worker."""
