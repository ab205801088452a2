"""Screens: main, device, script editor, automation, settings, help and dialogs."""
