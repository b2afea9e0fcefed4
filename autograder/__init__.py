"""The judge: checks a student's answers against ``reference`` and explains what is wrong.

- ``autograder.symbolic``: is a SymPy answer equal to the reference expression?
- ``autograder.properties``: does a student's function satisfy the properties that define it?
- ``autograder.questions.<assignment>``: one short call per notebook question.
- ``autograder.course``: the nbgrader round trip (release, submit, autograde, feedback, export).
"""
