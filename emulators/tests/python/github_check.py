"""Checks the CodePipeline simulator's GitHub API against PyGithub, a client nobody here wrote.

Usage: github_check.py API_URL TOKEN OWNER/REPO SHA AUTHOR_EMAIL
Prints GITHUB_OK when every check passed; any failure raises (non-zero exit).
"""

import sys

from github import Auth, BadCredentialsException, Github, UnknownObjectException


def main() -> None:
    api_url, token, repository, sha, email = sys.argv[1:]
    github = Github(base_url=api_url, auth=Auth.Token(token), retry=None)

    commit = github.get_repo(repository, lazy=True).get_git_commit(sha)
    assert commit.sha == sha, commit.sha
    assert commit.author.email == email, commit.author.email
    assert commit.message, "a commit message"

    core = github.get_rate_limit().resources.core
    assert core.limit == 5000 and core.remaining <= core.limit, (core.limit, core.remaining)

    try:
        github.get_repo(repository, lazy=True).get_git_commit("0" * 40)
        raise AssertionError("an unknown commit was found")
    except UnknownObjectException as e:
        assert e.status == 404, e.status

    wrong = Github(base_url=api_url, auth=Auth.Token("ghp_wrong"), retry=None)
    try:
        wrong.get_repo(repository, lazy=True).get_git_commit(sha)
        raise AssertionError("a wrong token was accepted")
    except BadCredentialsException as e:
        assert e.status == 401, e.status

    print("GITHUB_OK", flush=True)


if __name__ == "__main__":
    main()
