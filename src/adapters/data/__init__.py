"""Task data: task folders, the embedded demo suite, GLUE from the hub."""
