"""`python -m blueskypipe handle-stream|periodic|simulate …`: what the launchers run."""

import signal
import sys

try:
    # scripts/launch started it with SIGINT ignored, past the interpreter's
    # own start-up; from here a Ctrl-C is a KeyboardInterrupt, caught below.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    from blueskypipe import cli

    COMMANDS = {"handle-stream": cli.handle_stream, "periodic": cli.periodic, "simulate": cli.simulate}
    if __name__ == "__main__":
        if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
            sys.exit(f"usage: python -m blueskypipe {{{','.join(COMMANDS)}}} [options]")
        sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
except KeyboardInterrupt:
    # Ctrl-C before handle-stream has set its own handlers (during start-up,
    # when nothing was read yet), or in periodic or the simulator, which
    # write whole files or lines only: there is nothing to say.
    sys.exit(130)
