"""The local stack behind ``make run`` (``registry-bridge dev``), and the parts tests reuse.

=================  ===========================================================
``stack``          :func:`run_dev`: the processes of the demo, the banner
``ports``          :class:`DevPorts`, free ports
``broker``         :class:`EmbeddedBroker`, the in-memory Tansu broker
``registry``       the local ``docker-registry``'s config
``ociimage``       a tiny OCI image layout for the first push
``supervisor``     start, watch and stop the processes; none outlives it
``processgroup``   signal and stop a child's whole process group; die with the parent
``console``        the demo's output, surviving a closed stdout (and ``var/dev.log``)
``pidfile``        ``var/dev.pid``: what runs, for a second start to explain
=================  ===========================================================

It may import the public constants of both sides (``consumers.handlers.HANDLERS``,
``consumers.settings``); neither side imports it, except ``bridge.cli``, lazily, to offer
``registry-bridge dev``.
"""
