"""Webhooks: signing secrets, signatures, the address-checked transport and delivery jobs."""
