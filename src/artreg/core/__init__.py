"""Pure decisions: no I/O, no clock, no boto3."""
