"""Trading: the paper-trading service's tables as external assets, its heartbeat, a session job."""
