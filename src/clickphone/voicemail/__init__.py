"""Voicemail inbox: messages callers left through a call flow, listened to in the cabinet."""
