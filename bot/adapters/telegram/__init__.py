"""The Telegram front: python-telegram-bot's Application driving the core."""
