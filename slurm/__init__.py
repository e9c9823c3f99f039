"""Slurm launchers: pretraining jobs that requeue themselves, downstream sweeps as arrays.

Kept free of imports: ``python -m lebench.slurm.worker`` loads this first and must install its
signal handlers before anything slow.
"""
