"""Call statistics: summary tables kept current from call.record events, and queries."""
