"""bakeoff: run one agentic coding task on many LLMs at once, each as an isolated nano agent,
and grade them on quality, speed and cost. Importing this package has no side effects."""

__version__ = "0.1.0"
