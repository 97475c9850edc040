"""Long-lived helpers the window owns that are neither views nor one-shot ops (the Explain
model's child process)."""
