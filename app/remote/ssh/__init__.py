"""Lab servers over SSH (paramiko): profiles, connections, host keys, the executor."""
