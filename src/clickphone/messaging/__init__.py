"""Messaging: chat between colleagues, SMS to and from the phone network (SMPP), delivery
statuses and the message history."""
