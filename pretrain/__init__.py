"""What surrounds a pretraining run: config checks, launching, continued pretraining."""
