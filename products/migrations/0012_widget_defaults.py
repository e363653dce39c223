# The embed widget's title, placeholder and greeting, saved in the draft and frozen with each version.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('products', '0011_releases'),
    ]

    operations = [
        migrations.AddField(
            model_name='product',
            name='widget',
            field=models.JSONField(blank=True, default=dict, help_text="The widget's title, placeholder and greeting."),
        ),
        migrations.AddField(
            model_name='productversion',
            name='widget',
            field=models.JSONField(blank=True, default=dict, help_text="The widget's title, placeholder and greeting."),
        ),
    ]
