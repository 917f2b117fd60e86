"""Git for the revision tools: revisions to commits, a commit's date and subject, the
first-parent commits between two revisions, and temporary detached worktrees."""
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import platformdirs


def git(repo, *args):
    """The stripped stdout of ``git -C repo args``; ValueError with git's message on failure."""
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True)
    if proc.returncode:
        raise ValueError(f"git {' '.join(args)} failed in {repo}: {proc.stderr.strip()}")
    return proc.stdout.strip()


def repo_root(path):
    """The top directory of the git working tree containing ``path``."""
    return Path(git(path, "rev-parse", "--show-toplevel"))


def resolve(repo, rev):
    """The full hash of the commit ``rev`` names; ValueError naming it when it names none."""
    try:
        return git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}")
    except ValueError:
        raise ValueError(f"revision {rev!r}: expected a commit of {repo}, found none") from None


def commit_info(repo, sha):
    """{'sha', 'date' (committer date, ISO 8601), 'subject'} of a commit."""
    date, subject = git(repo, "log", "-1", "--format=%cI%x00%s", sha).split("\0", 1)
    return {"sha": sha, "date": date, "subject": subject}


def is_dirty(repo):
    """True when tracked files of the working tree differ from HEAD."""
    return bool(git(repo, "status", "--porcelain", "--untracked-files=no"))


def first_parent_path(repo, good, bad):
    """[good, ..., bad]: ``bad``'s first-parent history from ``good`` on (hashes); ValueError
    when ``good`` is not on it."""
    later = git(repo, "rev-list", "--first-parent", "--reverse", bad, f"^{good}").split()
    if not later or git(repo, "rev-parse", f"{later[0]}^") != good:
        raise ValueError(f"GOOD {good[:12]} must be an ancestor of BAD {bad[:12]} on its "
                         f"first-parent history")
    return [good] + later


class Worktrees:
    """Temporary detached worktrees of one repository, created on demand and all removed (with
    git's records of them) on exit; the user's working tree is not touched.

    A commit's worktree gets the same path every time (unless another run holds it), so that
    the Numba cache in ``numba_cache``, which Numba keys by the source's directory and content,
    is found again by the next run: per worktree, and only compiled once."""

    def __init__(self, repo, numba_cache=None):
        self.repo = Path(repo)
        self.numba_cache = Path(numba_cache or Path(platformdirs.user_cache_dir("fastscratch"))
                                / "ab-numba")
        tag = hashlib.sha1(str(self.repo.resolve()).encode()).hexdigest()[:10]
        self.stable = Path(tempfile.gettempdir()) / f"fastscratch-ab-{tag}"
        self.root = None
        self.paths = {}

    def __enter__(self):
        self.root = Path(tempfile.mkdtemp(prefix="fastscratch-ab-"))
        return self

    def get(self, sha, copy=0):
        """The worktree of commit ``sha`` (``copy`` > 0: another one of the same commit)."""
        key = (sha, copy)
        if key not in self.paths:
            path = self.stable / f"{sha[:12]}-{copy}"
            try:
                path.parent.mkdir(exist_ok=True)
                path.mkdir()
            except OSError:  # held by another run: a fresh path (and a cold Numba cache)
                path = self.root / f"{sha[:12]}-{copy}"
            git(self.repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
            self.paths[key] = path
        return self.paths[key]

    def __exit__(self, *exc):
        for path in self.paths.values():
            subprocess.run(["git", "-C", str(self.repo), "worktree", "remove", "--force",
                            str(path)], capture_output=True)
            shutil.rmtree(path, ignore_errors=True)
        subprocess.run(["git", "-C", str(self.repo), "worktree", "prune"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        return False
