"""Notifications: what a user should know (store decisions, expired numbers), in the cabinet
and by e-mail when SMTP is configured."""
