"""The pathway studio for care managers, in three blueprints with one layout (templates/studio/layout.html):

- ``library`` (/studio/): pathways, versions, readable differences, simulation;
- ``modeler`` (/studio/drafts/): drafts edited in the bpmn-js modeler, validation on the diagram, deploy;
- ``operations`` (/studio/operations/): cohort per element, instances in error, migration between versions.

Every view calls ``studio_actor()`` first (403 for anyone but a care manager).
"""
