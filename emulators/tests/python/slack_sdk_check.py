"""Drives the Slack emulator with the official Slack Python SDK (slack_sdk).

Run by emulators/tests/slack_python_sdk.rs as:
    python slack_sdk_check.py API_URL BOT_TOKEN APP_TOKEN CHANNEL USER USERGROUP

Web API: auth_test, chat_postMessage (blocks, metadata), chat_update, chat_postEphemeral,
usergroups_users_list, conversations_history and conversations_replies (with metadata), and SlackApiError(invalid_auth) for a wrong token. Socket Mode: the
builtin SocketModeClient connects, prints CONNECTED, acks the first envelope, prints
ACKED <action_id> and exits. Every wait is bounded; any failure exits non-zero.
"""

import sys
import threading

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

WAIT_SECONDS = 30

BLOCKS = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "*api* waits for approval"}},
    {
        "type": "actions",
        "block_id": "decide",
        "elements": [
            {
                "type": "button",
                "action_id": "approve",
                "value": "ref-1",
                "style": "primary",
                "text": {"type": "plain_text", "text": "Approve"},
            }
        ],
    },
]


def check_web_api(client: WebClient, channel: str, user: str, usergroup: str) -> None:
    me = client.auth_test()
    assert me["user_id"] and me["team_id"], me.data

    posted = client.chat_postMessage(channel=channel, text="api waits", blocks=BLOCKS)
    assert posted["channel"] == channel and posted["ts"], posted.data
    assert posted["message"]["blocks"] == BLOCKS, posted.data

    updated = client.chat_update(channel=channel, ts=posted["ts"], text="api still waits", blocks=BLOCKS)
    assert updated["ts"] == posted["ts"] and updated["text"] == "api still waits", updated.data

    metadata = {"event_type": "chatops_approval_prompt", "event_payload": {"token_hash": "abc"}}
    reply = client.chat_postMessage(channel=channel, thread_ts=posted["ts"], text="r", metadata=metadata)
    history = client.conversations_history(channel=channel, include_all_metadata=True, limit=10)
    assert [m["ts"] for m in history["messages"]] == [posted["ts"]], history.data
    thread = client.conversations_replies(channel=channel, ts=posted["ts"], include_all_metadata=True)
    assert [m["ts"] for m in thread["messages"]] == [posted["ts"], reply["ts"]], thread.data
    assert thread["messages"][1]["metadata"] == metadata, thread.data

    ephemeral = client.chat_postEphemeral(channel=channel, user=user, text="only you")
    assert ephemeral["message_ts"], ephemeral.data

    members = client.usergroups_users_list(usergroup=usergroup)
    assert user in members["users"], members.data

    wrong = WebClient(base_url=client.base_url, token="xoxb-wrong")
    try:
        wrong.auth_test()
    except SlackApiError as error:
        assert error.response["error"] == "invalid_auth", error.response.data
    else:
        raise AssertionError("a wrong token was accepted")


def run_socket_mode(client: WebClient, app_token: str) -> str:
    acked = threading.Event()
    seen = {}

    def on_request(socket: SocketModeClient, request: SocketModeRequest) -> None:
        socket.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        actions = request.payload.get("actions") or [{}]
        seen["action_id"] = actions[0].get("action_id")
        acked.set()

    socket = SocketModeClient(app_token=app_token, web_client=client)
    socket.socket_mode_request_listeners.append(on_request)
    try:
        socket.connect()
        if not socket.is_connected():
            raise AssertionError("SocketModeClient did not connect")
        print("CONNECTED", flush=True)
        if not acked.wait(WAIT_SECONDS):
            raise AssertionError(f"no envelope within {WAIT_SECONDS}s")
        return seen["action_id"]
    finally:
        socket.close()


def main() -> None:
    api_url, bot_token, app_token, channel, user, usergroup = sys.argv[1:7]
    client = WebClient(base_url=api_url + "/", token=bot_token, timeout=WAIT_SECONDS)
    check_web_api(client, channel, user, usergroup)
    print("WEB_API_OK", flush=True)
    action_id = run_socket_mode(client, app_token)
    print(f"ACKED {action_id}", flush=True)


if __name__ == "__main__":
    main()
