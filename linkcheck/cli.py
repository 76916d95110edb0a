"""The ``linkcheck`` command: a thin shell over the library.

The only module that imports typer. It parses arguments, calls one library function, renders
the result and maps exceptions to exit codes in one place (``main``):
0 pass/warn, 1 fail (error findings), 2 usage, 3 the input could not be analysed.
"""

from __future__ import annotations

import enum
import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from linkcheck import __version__
from linkcheck.errors import LinkcheckError

__all__ = ["app", "main"]

EXIT_OK = 0
EXIT_FAIL = 1
EXIT_USAGE = 2
EXIT_INPUT = 3

app = typer.Typer(
    name="linkcheck",
    help="Tell, before an image is pushed, whether its entrypoint will actually start.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class OutputFormat(enum.StrEnum):
    text = "text"
    json = "json"


class DockerfileFormat(enum.StrEnum):
    text = "text"
    json = "json"
    sarif = "sarif"


ImageArg = Annotated[
    str,
    typer.Argument(
        help="docker-archive or OCI archive tarball, OCI layout directory, or - for stdin."
    ),
]
FormatOpt = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]
PlatformOpt = Annotated[
    str | None, typer.Option("--platform", help="Only this platform, e.g. linux/arm64.")
]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="Image name:tag, when the archive holds several.")
]


@app.command()
def inspect(
    image: ImageArg,
    platform: PlatformOpt = None,
    name: NameOpt = None,
    output_format: FormatOpt = OutputFormat.text,
) -> None:
    """Show an image's platforms, config, entrypoint and layers."""
    from linkcheck.errors import ImageFormatError
    from linkcheck.image import open_image
    from linkcheck.model import Platform
    from linkcheck.render.inspect import inspect_json, inspect_text

    try:
        wanted = Platform.parse(platform) if platform else None
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--platform") from e
    if image == "-" and sys.stdin.isatty():
        raise ImageFormatError("- reads an image tarball from stdin, but stdin is a terminal")
    source = sys.stdin.buffer if image == "-" else image
    try:
        with open_image(source) as archive:
            refs = archive.select(platform=wanted, name=name)
            images = [archive.load(ref) for ref in refs]
            render = inspect_json if output_format is OutputFormat.json else inspect_text
            typer.echo(render(archive.images, images))
    except OSError as e:  # I/O failing under us (EIO, a vanished file): still exit 3
        raise ImageFormatError(f"cannot read {image}: {e.strerror or e}") from e


@app.command(context_settings={"allow_interspersed_args": True})
def analyze(
    image: ImageArg,
    args: Annotated[
        list[str] | None,
        typer.Argument(help="After --: arguments replacing the image's Cmd (like docker run)."),
    ] = None,
    platform: PlatformOpt = None,
    name: NameOpt = None,
    output_format: FormatOpt = OutputFormat.text,
    entrypoint: Annotated[
        list[str] | None,
        typer.Option(
            "--entrypoint",
            help="Replace the image's Entrypoint; repeat for more words (--entrypoint /bin/sh "
            "--entrypoint -c). As with docker run and Kubernetes command, this also drops the "
            "image's Cmd unless --cmd or args after -- are given. --entrypoint '' clears it.",
        ),
    ] = None,
    cmd: Annotated[
        list[str] | None,
        typer.Option("--cmd", help="Replace the image's Cmd; repeat for more words."),
    ] = None,
    env: Annotated[
        list[str] | None,
        typer.Option("--env", "-e", help="KEY=VALUE added to the config's Env; repeatable."),
    ] = None,
    scan_all: Annotated[
        bool, typer.Option("--all", help="Also check every other ELF file in the image.")
    ] = False,
) -> None:
    """Tell whether the image's entrypoint will start, and if not, why and how to fix it.

    Exit status: 0 pass or warn, 1 fail, 2 usage, 3 the image could not be read.
    """
    from linkcheck.analysis import analyze as run_analysis
    from linkcheck.errors import ImageFormatError
    from linkcheck.model import Platform, Verdict
    from linkcheck.render.json import render_json
    from linkcheck.render.text import render_text

    try:
        wanted = Platform.parse(platform) if platform else None
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--platform") from e
    overrides: dict[str, str] = {}
    for item in env or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise typer.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--env")
        overrides[key] = value
    new_entrypoint = None if entrypoint is None else [w for w in entrypoint if w != ""]
    new_cmd = [*(cmd or ()), *(args or ())] if (cmd or args) else None
    source = sys.stdin.buffer if image == "-" else image
    try:
        report = run_analysis(
            source,
            platform=wanted,
            name=name,
            entrypoint=new_entrypoint,
            cmd=new_cmd,
            env=overrides,
            scan_all=scan_all,
        )
    except OSError as e:  # I/O failing under us (EIO, a vanished file): still exit 3
        raise ImageFormatError(f"cannot read {image}: {e.strerror or e}") from e
    render = render_json if output_format is OutputFormat.json else render_text
    sys.stdout.write(render(report))
    if report.verdict is Verdict.FAIL:
        raise typer.Exit(EXIT_FAIL)


@app.command()
def dockerfile(
    files: Annotated[list[Path], typer.Argument(help="Dockerfiles to check.")],
    output_format: Annotated[
        DockerfileFormat,
        typer.Option("--format", "-f", help="Output format (sarif: for code scanning)."),
    ] = DockerfileFormat.text,
    catalog: Annotated[
        Path | None,
        typer.Option("--catalog", help="JSON base-image catalog searched before the built-in."),
    ] = None,
) -> None:
    """Check Dockerfiles for binaries copied onto a base they cannot run on.

    Every possible --target is checked. Rules, reported at the COPY --from line:
    dynamic-binary-on-static-base, glibc-binary-on-musl-base, musl-binary-on-glibc-base,
    glibc-too-new-for-base; at the FROM line: static-binary-on-libc-base (info).

    Exit status: 0 pass or warnings, 1 errors, 2 usage, 3 unreadable or unparsable input.
    """
    from linkcheck.dockerfile import check_dockerfile, load_catalog
    from linkcheck.model import Severity
    from linkcheck.render.dockerfile import render_json, render_text
    from linkcheck.render.sarif import render_sarif

    bases = load_catalog(catalog)
    results = [(str(path), check_dockerfile(path, catalog=bases)) for path in files]
    if output_format is DockerfileFormat.sarif:
        sys.stdout.write(render_sarif(results, version=__version__))
    else:
        render = render_json if output_format is DockerfileFormat.json else render_text
        sys.stdout.write(render(results))
    if any(f.severity is Severity.ERROR for _, found in results for f in found):
        raise typer.Exit(EXIT_FAIL)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code instead of exiting (callable from tests)."""
    logging.basicConfig(level=logging.WARNING, format="linkcheck: %(message)s")
    args = sys.argv[1:] if argv is None else argv
    try:
        # standalone_mode=False: click returns a command's ``typer.Exit`` code instead of
        # raising it, so the result carries the exit status.
        result = app(args=args, prog_name="linkcheck", standalone_mode=False)
    except LinkcheckError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_INPUT
    except typer.Exit as e:
        return int(e.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # click usage errors carry their own exit code
        code = getattr(e, "exit_code", None)
        if isinstance(code, int):
            show = getattr(e, "show", None)
            if callable(show):
                show()
            return code
        raise
    return result if isinstance(result, int) else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
