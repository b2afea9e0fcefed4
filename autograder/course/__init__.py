"""The course machinery around nbgrader: course directories, sample submissions, the demo."""
