"""Trunks: SIP trunks to carriers, the dial plan and PSTN call routing."""
