"""Delivery of freeze orders to banks: claims, sends through the adapters, records the answers."""
