"""Example workflows shown in Orange's Help > Examples."""
