"""Click-to-call: a website widget (and the cabinet's "Call back") asks ClickPhone to ring a
company's employee or department first, then the visitor, and bridge them."""
