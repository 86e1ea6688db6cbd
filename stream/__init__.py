"""The stream processor: a thin Faust agent over plain, separately tested functions."""
