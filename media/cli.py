"""`flask --app wsgi media ...`: transcode a file now, import a folder, run the worker, expire uploads.

Commands act as the operator (``dangxiao.policy.SYSTEM``) and commit once per unit
of work: each imported file is its own transaction, so one bad file does not undo
the others.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from dangxiao.errors import DomainError
from dangxiao.policy import SYSTEM
from dangxiao.templating import human_size
from dangxiao.transactions import atomic
from media import library, storage, uploads
from media.models import AssetStatus, JobStatus
from media.tasks import run_job

media_cli = AppGroup("media", help="媒体库：转码、批量导入、转码工作进程。")


@media_cli.command("transcode")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--title", default=None, help="标题，默认取文件名")
def transcode_command(file: Path, title: str | None) -> None:
    """Import FILE and transcode it here in the foreground (the worker's own code path)."""
    try:
        with atomic():
            imported = library.import_file(SYSTEM, file, title, enqueue=False)
    except DomainError as error:
        raise click.ClickException(error.message) from None
    asset = imported.asset
    if imported.duplicate:
        click.echo(f"内容相同的文件已导入过：资源编号 {asset.id}（{asset.status.label}）")
        _print_result(asset.id)
        return
    click.echo(f"资源编号：{asset.id}")
    with click.progressbar(length=100, label="转码", show_percent=True, show_eta=False) as bar:
        done = [0]

        def progress(percent: float, speed: float | None) -> None:
            step = int(percent) - done[0]
            if step > 0:
                bar.update(step)
                done[0] += step

        status = run_job(asset.job.id, on_progress=progress)
    if status != JobStatus.done:
        asset = library.get_asset(asset.id)
        raise click.ClickException(f"转码失败：{asset.failure_reason or asset.status.label}（资源编号 {asset.id}）")
    _print_result(asset.id)


def _print_result(asset_id: int) -> None:
    asset = library.get_asset(asset_id)
    click.echo(f"资源编号：{asset.id}")
    if asset.status == AssetStatus.ready and asset.output_dir:
        click.echo(f"输出目录：{storage.absolute(asset.output_dir)}")
    elif asset.failure_reason:
        click.echo(f"状态：{asset.status.label}（{asset.failure_reason}）")
    else:
        click.echo(f"状态：{asset.status.label}")


@media_cli.command("import-dir")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--recursive", is_flag=True, help="也导入子目录中的文件")
def import_dir_command(directory: Path, recursive: bool) -> None:
    """Queue every video/audio file in DIRECTORY; content already imported is skipped."""
    pattern = "**/*" if recursive else "*"
    files = sorted(p for p in directory.glob(pattern) if p.is_file() and storage.is_media_filename(p.name))
    queued = skipped = failed = 0
    for path in files:
        try:
            with atomic():
                imported = library.import_file(SYSTEM, path)
        except (DomainError, OSError) as error:
            failed += 1
            message = error.message if isinstance(error, DomainError) else str(error)
            click.echo(f"失败  {path.name}：{message}", err=True)
            if isinstance(error, DomainError) and error.code == "quota_exceeded":
                break
            continue
        if imported.duplicate:
            skipped += 1
            click.echo(f"跳过  {path.name}（已导入，资源编号 {imported.asset.id}）")
        else:
            queued += 1
            click.echo(f"排队  {path.name} → 资源编号 {imported.asset.id}")
    click.echo(f"共 {len(files)} 个媒体文件：已排队 {queued} 个，跳过重复 {skipped} 个，失败 {failed} 个。")
    if failed:
        raise SystemExit(1)


@media_cli.command("worker")
@click.option("--workers", type=int, default=None, help="并行转码数（默认 HUEY_WORKERS）")
def worker_command(workers: int | None) -> None:
    """Run the transcoding job consumer until interrupted (Ctrl-C)."""
    from media.worker import run_worker

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    run_worker(current_app._get_current_object(), workers)  # type: ignore[attr-defined]


@media_cli.command("reap")
def reap_command() -> None:
    """Re-queue stalled jobs once (the worker does this by itself every few seconds)."""
    from media import jobs

    report = jobs.reap(pending_tasks=current_app.extensions["huey"].pending_count())
    click.echo(
        f"重新排队 {len(report.requeued)} 个，判定失败 {len(report.failed)} 个，重新投递 {len(report.resent)} 个。"
    )


@media_cli.command("expire-uploads")
def expire_uploads_command() -> None:
    """Remove unfinished uploads older than MEDIA_UPLOAD_EXPIRY_HOURS (the worker does this too)."""
    hours = uploads.expiry_hours()
    if hours <= 0:
        click.echo("MEDIA_UPLOAD_EXPIRY_HOURS 为 0：未完成的上传不会过期。")
        return
    with atomic():
        report = uploads.expire_uploads(SYSTEM)
    click.echo(
        f"已清除 {len(report.removed)} 个超过 {hours:g} 小时未继续的上传，"
        f"释放 {human_size(report.freed_bytes)} 额度；另删除 {report.orphans} 个无主的临时文件。"
    )
