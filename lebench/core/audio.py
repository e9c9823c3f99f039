"""The one sample rate of the toolkit: every model and manifest is 16 kHz mono."""

SAMPLE_RATE = 16_000
