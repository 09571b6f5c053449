"""A local Slack: a Web API emulator and a driver that sends signed requests to the bot.

Part of the product: tests and ``orgtune demo`` run against it, so nothing ever
talks to a real workspace.
"""

from slackemu.driver import Ack, NotDelivered, SlackDriver
from slackemu.server import SlackEmulator
from slackemu.state import ApiCall, Message, Workspace

__all__ = ["Ack", "ApiCall", "Message", "NotDelivered", "SlackDriver", "SlackEmulator", "Workspace"]
