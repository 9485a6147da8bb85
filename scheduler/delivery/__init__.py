"""Delivery channels: one small interface (``Channel.send``), one module per channel."""
