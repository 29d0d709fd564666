"""Call recordings: policy, media-plane recording, API, retention, share links."""
