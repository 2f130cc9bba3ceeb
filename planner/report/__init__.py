"""Renderers only: plans, simulations, estimates and studies as terminal tables, Markdown, HTML and plots."""
