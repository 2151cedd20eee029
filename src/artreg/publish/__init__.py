"""The publish engine: plans and carries out what commands ask of a target.

See docs/architecture.md for the parts and what each may import.
"""
