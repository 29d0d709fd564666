"""Numbers: the operator's inventory of virtual (DID) numbers."""
