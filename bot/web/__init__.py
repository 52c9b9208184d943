"""The web app: the resident chat page (rasa-webchat over Rasa's socket.io channel) and the staff
console (handoff queue, tickets, dashboard, JSON API). See bot/web/README.md.

    python -m bot.web --host 127.0.0.1 --port 8000
"""
