"""Helpers every layer may import (torch only): tensor errors and timers."""
