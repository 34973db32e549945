"""The DTS data plane: sources, sinks and the pipeline that joins them. No Django imports here."""
