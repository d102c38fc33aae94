"""Grading kernel-module assignments: ``kmodsim grade`` and the pytest plugin under it.

- :mod:`.plugin`: the pytest plugin (fixtures ``kernel``, ``submission``, ``lab``; markers
  ``points``, ``hidden``, ``after_due_date``, ``budget``), loaded by every pytest through the
  ``pytest11`` entry point.
- :mod:`.lab`: :class:`~.lab.Lab`, the steps of a lab test (load, unload, read, sh, run).
- :mod:`.runner`: tests collected once, each (submission, test) in a forked process with
  memory and time caps; :mod:`.dask_executor` the same on a Dask cluster.
- :mod:`.submissions`: naming submissions, building them from sources.
- :mod:`.results`, :mod:`.formats`: the records and the graders' formats (Gradescope,
  PrairieLearn, JUnit XML, KTAP).
- :mod:`.bundle`: the files of a Gradescope autograder.

Nothing is imported here: pytest loads the plugin in every run.
"""
