from django import forms

from .models import MalwareReport


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        choices=MalwareReport.Reason.choices, widget=forms.RadioSelect, label="What is wrong?"
    )
    details = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=5000,
        help_text="What you found and where: files, versions, links. Moderators read every report.",
    )
