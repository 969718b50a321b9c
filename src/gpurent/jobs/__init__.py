"""Jobs run on leased GPUs (locally or on a Slurm cluster), and the GPU time they use."""
