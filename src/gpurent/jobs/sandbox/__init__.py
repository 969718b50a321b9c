"""What keeps one tenant's jobs away from the host and from other tenants on the local
backend: a Unix user per lease (users.py), a private workspace (workspace.py), a cgroup
per job where the kernel offers one (cgroups.py), process sweeps by user and by tree
(processes.py), and the steps a job's first process takes before it runs (confine.py).
docs/jobs.md states the threat model."""
