"""The delay monitor, task metrics, alert rules, alert channels and live task updates."""
