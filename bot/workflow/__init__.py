"""The workflow: diagnose -> plan -> gate -> execute -> verify -> audit. The only owner of request state."""
