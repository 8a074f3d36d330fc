"""``python -m boltzkit ...``: the ``boltzkit`` command, for launchers that run a module
(``torchrun --standalone --nproc-per-node N -m boltzkit train ...``)."""

from boltzkit.cli.main import main

if __name__ == "__main__":
    main()
