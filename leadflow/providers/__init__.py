"""Twilio and SendGrid: the real SDKs, and an in-repo fake speaking their wire API."""
